/**
 * How many digits the API shows of figures whose further digits are float or measurement noise: a
 * timer does not resolve 10 µs of a request's life, sums of prices carry binary rounding artefacts
 * (0.30000000000000004), and a Monte Carlo estimate or a posterior mean is not known to the 5th
 * decimal. One place decides it, so every field of a kind is shown alike.
 *
 * Left exact on purpose: posterior parameters (alpha, beta), prices and configured values (inputs
 * to clients' own arithmetic), and ChatRoute.confidence, which sizes the chunks of the stream and
 * must reproduce that size (chunkWordsForConfidence).
 */

const roundTo = (value: number, decimals: number): number => {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
};

const orNull =
  (round: (value: number) => number) =>
  (value: number | null | undefined): number | null =>
    value === null || value === undefined ? null : round(value);

/** Milliseconds: to 10 µs. */
export const roundMs = (value: number): number => roundTo(value, 2);
export const roundMsOrNull = orNull(roundMs);

/** US dollars: 12 significant digits, enough for any price times any token count. */
export const roundUsd = (value: number): number => Number(value.toPrecision(12));

/** Shares, rates and rewards in [0, 1] (hit rate, error rate, posterior mean and interval): 4 decimals. */
export const roundShare = (value: number): number => roundTo(value, 4);
export const roundShareOrNull = orNull(roundShare);

/** Monte Carlo probability estimates from ≥ 500 draws (standard error ≥ 0.002): 3 decimals. */
export const roundEstimate = (value: number): number => roundTo(value, 3);

/** Throughput (tokens per second) and seconds: 1 decimal. */
export const roundTenth = (value: number): number => roundTo(value, 1);
export const roundTenthOrNull = orNull(roundTenth);
