import { readdirSync, readFileSync } from 'node:fs';

/** A process's state letter and parent pid from /proc (the tests run on Linux); undefined once it is gone. */
function processStat(pid: number | string): { state: string; ppid: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is parenthesised and may hold spaces: the fields after it are fixed.
  const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state: state!, ppid: Number(ppid) };
}

/** Running, not a zombie. */
export const alive = (pid: number): boolean => {
  const state = processStat(pid)?.state;
  return state !== undefined && state !== 'Z';
};

/** Pids of every live descendant of `pid`. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || !alive(Number(entry))) continue;
    const ppid = processStat(entry)?.ppid;
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const visit = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      visit(child);
    }
  };
  visit(pid);
  return found;
}
