/**
 * Seedable random numbers for the bandit. Everything that samples takes an {@link Rng} so tests
 * and replays are reproducible.
 */

/** Returns a float uniformly distributed in [0, 1). */
export type Rng = () => number;

/**
 * sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): passes PractRand to 2^40+ bytes,
 * fast in JavaScript's 32-bit integer arithmetic, and has no bad seeds once warmed up.
 */
export function createRng(seed: number = Date.now() ^ (Math.random() * 0x100000000)): Rng {
  // The state lives in a typed array: held in closure variables, its 32-bit values (above the
  // small-integer range) were boxed as heap numbers on every draw.
  const state = new Uint32Array([0x9e3779b9, 0x243f6a88, 0xb7e15162, seed >>> 0]);
  const next = (): number => {
    const a = state[0]!;
    const b = state[1]!;
    let c = state[2]!;
    let d = state[3]!;
    let t = (a + b) | 0;
    state[0] = b ^ (b >>> 9);
    state[1] = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    state[2] = (c + t) | 0;
    state[3] = d;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

/** Standard normal by the Marsaglia polar method. */
export function sampleNormal(rng: Rng): number {
  for (;;) {
    const u = 2 * rng() - 1;
    const v = 2 * rng() - 1;
    const s = u * u + v * v;
    if (s > 0 && s < 1) return u * Math.sqrt((-2 * Math.log(s)) / s);
  }
}

/** Where {@link gammaInto} leaves its draw: a typed array, so that no draw is boxed on return. */
const drawn = new Float64Array(1);

/**
 * Gamma(shape, 1) by Marsaglia & Tsang (2000), "A simple method for generating gamma variables",
 * left in drawn[0]. For shape < 1 it uses the boost Gamma(a) = Gamma(a + 1) * U^(1/a). One loop,
 * the normal draws inline: routing draws two per arm per request, and a call per normal, a
 * recursion for the boost and a double returned from each boxed ~100 bytes per arm.
 */
function gammaInto(rng: Rng, shape: number): void {
  if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
  // The boost's uniform is drawn first, as the recursive form drew it, so seeded draws are unchanged.
  const boost = shape < 1 ? rng() : 1;
  const d = (shape < 1 ? shape + 1 : shape) - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  let value = 0;
  for (;;) {
    let x = 0;
    let v = 0;
    do {
      // Standard normal by the Marsaglia polar method (as sampleNormal).
      let s = 0;
      let p = 0;
      do {
        p = 2 * rng() - 1;
        const q = 2 * rng() - 1;
        s = p * p + q * q;
      } while (!(s > 0 && s < 1));
      x = p * Math.sqrt((-2 * Math.log(s)) / s);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    const x2 = x * x;
    if (u < 1 - 0.0331 * x2 * x2 || Math.log(u) < 0.5 * x2 + d * (1 - v + Math.log(v))) {
      value = d * v;
      break;
    }
  }
  drawn[0] = shape < 1 ? value * Math.pow(boost === 0 ? Number.MIN_VALUE : boost, 1 / shape) : value;
}

/** Gamma(shape, 1); see {@link gammaInto}. */
export function sampleGamma(rng: Rng, shape: number): number {
  gammaInto(rng, shape);
  return drawn[0]!;
}

/** Beta(alpha, beta) as X / (X + Y) with X ~ Gamma(alpha), Y ~ Gamma(beta). */
export function sampleBeta(rng: Rng, alpha: number, beta: number): number {
  gammaInto(rng, alpha);
  const x = drawn[0]!;
  gammaInto(rng, beta);
  const sum = x + drawn[0]!;
  // Both gammas can underflow to 0 for tiny shapes; the mean is the sensible answer then.
  return sum > 0 ? x / sum : alpha / (alpha + beta);
}
