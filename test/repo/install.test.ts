import { readFileSync } from 'node:fs';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

/**
 * `npm install` on a fresh clone prints no warning on the Node versions package.json promises: every
 * locked package supports all of them (no EBADENGINE), and every install script is either approved
 * or denied in allowScripts (npm 11 skips and lists unreviewed ones).
 */

interface LockedPackage {
  readonly version?: string;
  readonly engines?: { node?: string } | string[];
  readonly hasInstallScript?: boolean;
  readonly link?: boolean;
}

const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as {
  engines: { node: string };
  workspaces: string[];
  allowScripts?: Record<string, boolean>;
};
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, LockedPackage> };
const promise = manifest.engines.node;
const locked = Object.entries(lock.packages).filter(([path]) => path !== '');
const nameOf = (path: string) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);

describe('a fresh install', () => {
  it('promises Node versions that exist and are still in one line each', () => {
    expect(semver.validRange(promise)).not.toBeNull();
    expect(semver.satisfies('20.19.0', promise)).toBe(true);
  });

  it('locks only packages that support every Node version package.json promises (no EBADENGINE)', () => {
    expect(locked.length).toBeGreaterThan(100);
    const unsupported = locked
      .filter(([, pkg]) => typeof (pkg.engines as { node?: string } | undefined)?.node === 'string')
      .filter(([, pkg]) => !semver.subset(promise, (pkg.engines as { node: string }).node))
      .map(([path, pkg]) => `${path}@${pkg.version}: node ${(pkg.engines as { node: string }).node}`);
    expect(unsupported).toEqual([]);
  });

  it('has every install script reviewed in allowScripts', () => {
    const unreviewed = locked
      .filter(([, pkg]) => pkg.hasInstallScript && !pkg.link)
      .map(([path]) => nameOf(path))
      .filter((name) => manifest.allowScripts?.[name] === undefined);
    expect(unreviewed).toEqual([]);
  });

  it('workspace packages promise the same Node versions', () => {
    for (const workspace of manifest.workspaces) {
      const pkg = JSON.parse(readFileSync(`${workspace}/package.json`, 'utf8')) as { engines?: { node?: string } };
      expect(pkg.engines?.node, workspace).toBe(promise);
    }
  });
});
