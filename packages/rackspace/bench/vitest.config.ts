import { defineConfig } from 'vitest/config'

// `pnpm bench`: the benchmark is a vitest file (it uses the TypeScript stand-in of test/), printed, not asserted
export default defineConfig({
  test: { include: ['bench/**/*.bench.ts'], testTimeout: 600_000, hookTimeout: 120_000, reporters: ['default'] }
})
