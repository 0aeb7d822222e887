/**
 * The embedded default: four simulated models from fast/cheap/weak to slow/expensive/strong, one
 * arm each. It runs anywhere with no keys and no Redis, which is what `npm start` promises.
 */
export const defaultConfig = {
  models: [
    {
      id: 'sim-flash',
      provider: 'simulated',
      ttftMs: 40,
      tokensPerSecond: 400,
      errorRate: 0.01,
      quality: 0.45,
      inputPer1k: 0.0001,
      outputPer1k: 0.0002,
    },
    {
      id: 'sim-swift',
      provider: 'simulated',
      ttftMs: 120,
      tokensPerSecond: 150,
      errorRate: 0.01,
      quality: 0.62,
      inputPer1k: 0.0005,
      outputPer1k: 0.0015,
    },
    {
      id: 'sim-sage',
      provider: 'simulated',
      ttftMs: 300,
      tokensPerSecond: 80,
      errorRate: 0.02,
      quality: 0.8,
      inputPer1k: 0.003,
      outputPer1k: 0.006,
    },
    {
      id: 'sim-titan',
      provider: 'simulated',
      ttftMs: 700,
      tokensPerSecond: 40,
      errorRate: 0.03,
      quality: 0.88,
      inputPer1k: 0.01,
      outputPer1k: 0.03,
    },
  ],
  arms: [
    { id: 'flash', model: 'sim-flash' },
    { id: 'swift', model: 'sim-swift' },
    { id: 'sage', model: 'sim-sage' },
    { id: 'titan', model: 'sim-titan' },
  ],
} as const;
