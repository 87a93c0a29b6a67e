/** The cluster suite (`npm run test:cluster`): real engines in separate processes; see test/cluster/. */
export default {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/dist/test/cluster'],
  testMatch: ['**/*.test.js'],
  moduleFileExtensions: ['js', 'json'],
  transform: {},
  testTimeout: 300_000,
  maxWorkers: 1,
  forceExit: true,
};
