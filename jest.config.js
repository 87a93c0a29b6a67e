/** Tests run from the compiled output (`npm test` compiles first), as native ESM. */
export default {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  // The cluster suite runs apart (`npm run test:cluster`, jest.cluster.config.js).
  testPathIgnorePatterns: ['/dist/test/cluster/'],
  moduleFileExtensions: ['js', 'json'],
  transform: {},
  globalSetup: '<rootDir>/dist/test/support/global-setup.js',
  globalTeardown: '<rootDir>/dist/test/support/global-teardown.js',
  testTimeout: 60_000,
  maxWorkers: 2,
  // The embedded SurrealDB engine keeps a process alive after close (DESIGN.md §6).
  forceExit: true,
};
