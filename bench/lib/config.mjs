/** opossum options from its README (timeout 3 s, 50 % errors, 30 s reset); otherwise its defaults. */
export const opossumOptions = { timeout: 3000, errorThresholdPercentage: 50, resetTimeout: 30_000 }
