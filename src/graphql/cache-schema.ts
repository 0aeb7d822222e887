import type { CacheLayerStats, CacheStats } from '../cache/cache-manager.js';
import { builder } from './builder.js';
import { roundShare, roundTenth } from './display-rounding.js';

const CacheStatus = builder.enumType('CacheStatus', {
  values: {
    OK: { value: 'ok', description: 'Working as configured.' },
    DEGRADED: {
      value: 'degraded',
      description: 'Still serving, with less: Redis is not configured, not reachable yet, or lost (L1 and upstream answer).',
    },
    DISABLED: { value: 'disabled', description: 'Off: the cache is disabled, or (L2) no Redis is configured.' },
  } as const,
});

type LayerView = CacheLayerStats & { readonly countedAt: number | null };

const CacheLayer = builder.objectRef<LayerView>('CacheLayer').implement({
  description: 'One cache layer: L1 (in process) or L2 (Redis, shared by every instance).',
  fields: (t) => ({
    status: t.field({ type: CacheStatus, resolve: (layer) => layer.status }),
    entries: t.exposeInt('entries', {
      nullable: true,
      description: 'L2: from the latest background count; null before the first count or when L2 is off.',
    }),
    // Float: a shared Redis can hold more than Int's 2^31 bytes.
    bytes: t.exposeFloat('bytes', {
      nullable: true,
      description: 'L1: JSON + key bytes. L2: stored value bytes, without Redis\' own per-key overhead.',
    }),
    hits: t.exposeInt('hits'),
    misses: t.exposeInt('misses', {
      description: 'L2: lookups Redis answered with nothing (lookups skipped while it is down are not counted).',
    }),
    hitRate: t.float({ description: 'hits / (hits + misses); 0 before any lookup.', resolve: (l) => roundShare(l.hitRate) }),
    ttlSeconds: t.float({
      description: 'The TTL a fresh entry gets now (the adaptive base).',
      resolve: (l) => roundTenth(l.ttlSeconds),
    }),
    countedAt: t.string({
      nullable: true,
      description: 'L2: when entries and bytes were counted; null for L1 and before the first count.',
      resolve: (layer) => (layer.countedAt === null ? null : new Date(layer.countedAt).toISOString()),
    }),
  }),
});

const CacheTtlPolicy = builder.objectRef<CacheStats['ttl']>('CacheTtlPolicy').implement({
  description:
    'Adaptive TTL: base = min + (max − min) · windowHitRate once the window holds minSamples lookups (min before); ' +
    'an entry hit n times lives min(max, base · (1 + hitGrowth · n)).',
  fields: (t) => ({
    baseSeconds: t.float({ description: 'TTL of a fresh entry now.', resolve: (p) => roundTenth(p.baseSeconds) }),
    minSeconds: t.exposeFloat('minSeconds'),
    maxSeconds: t.exposeFloat('maxSeconds'),
    hitGrowth: t.exposeFloat('hitGrowth', { description: 'Base TTLs added to an entry per hit on it.' }),
    windowSeconds: t.exposeFloat('windowSeconds', { description: 'Sliding window of the hit rate that steers the base.' }),
    minSamples: t.exposeInt('minSamples', { description: 'Lookups the window needs before the base leaves minSeconds.' }),
    windowLookups: t.exposeInt('windowLookups'),
    windowHitRate: t.float({ resolve: (p) => roundShare(p.windowHitRate) }),
  }),
});

const Cache = builder.objectRef<CacheStats>('Cache').implement({
  description: 'The answer cache: its layers, overall figures and TTL policy.',
  fields: (t) => ({
    status: t.field({
      type: CacheStatus,
      description: 'DEGRADED whenever L2 is not usable (including not configured); DISABLED when the cache is off.',
      resolve: (stats) => stats.status,
    }),
    l1: t.field({ type: CacheLayer, resolve: (stats) => ({ ...stats.l1, countedAt: null }) }),
    l2: t.field({ type: CacheLayer, resolve: (stats) => stats.l2 }),
    hits: t.exposeInt('hits', { description: 'Lookups answered by either layer.' }),
    misses: t.exposeInt('misses', { description: 'Lookups answered by neither layer.' }),
    hitRate: t.float({ resolve: (stats) => roundShare(stats.hitRate) }),
    ttl: t.field({ type: CacheTtlPolicy, resolve: (stats) => stats.ttl }),
  }),
});

builder.queryFields((t) => ({
  cache: t.field({
    type: Cache,
    description: 'Cache figures. L2 entries/bytes are recounted when older than cache.l2.statsRefreshMs.',
    resolve: (_root, _args, { services }) => services.cache.currentStats(),
  }),
}));

builder.mutationFields((t) => ({
  invalidateCache: t.int({
    description:
      'Admin: removes cached answers whose key starts with `prefix` (all when absent): "arm/<id>/" for requests ' +
      'pinned to an arm, "any/" for routed ones. Returns copies removed here (L1 entries + L2 values); other ' +
      'instances drop their L1 copies too. While Redis is down, its part is applied when it returns.',
    args: { prefix: t.arg.string() },
    resolve: (_root, { prefix }, { services }) => services.cache.invalidate(prefix ?? ''),
  }),
}));
