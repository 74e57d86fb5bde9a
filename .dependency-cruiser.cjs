// The architecture's import rules (docs/architecture.md), checked by `npm run lint`.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'protocol-imports-neither-side',
      comment: 'The wire protocol is shared by master and slave: it imports neither, nor the CLI.',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/(master|slave|cli)/' },
    },
    {
      name: 'master-and-slave-meet-only-through-the-protocol',
      comment: 'The master never imports the slave, and the slave never imports the master.',
      severity: 'error',
      from: { path: '^src/master/' },
      to: { path: '^src/slave/' },
    },
    {
      name: 'slave-does-not-import-master',
      comment: 'The slave never imports the master.',
      severity: 'error',
      from: { path: '^src/slave/' },
      to: { path: '^src/master/' },
    },
    {
      name: 'only-the-cli-imports-the-cli',
      comment: 'The library never depends on the command-line layer.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'pg-store-does-not-import-the-file-store',
      comment: 'The two state stores each implement the StateStore interface alone: what both need lives beside the interface (state-store.ts, store-common.ts).',
      severity: 'error',
      from: { path: '^src/master/pg-' },
      to: { path: '^src/master/(run-store|file-[^/]+|journal|lock)[.]ts$' },
    },
    {
      name: 'file-store-does-not-import-the-pg-store',
      comment: 'The two state stores each implement the StateStore interface alone.',
      severity: 'error',
      from: { path: '^src/master/(run-store|file-[^/]+|journal|lock|checkpoint|failed-log)[.]ts$' },
      to: { path: '^src/master/pg-' },
    },
    {
      name: 'state-interface-imports-no-store',
      comment: 'The StateStore interface and the rules both stores share are neutral ground: they import neither store.',
      severity: 'error',
      from: { path: '^src/master/(state-store|store-common)[.]ts$' },
      to: { path: '^src/master/(run-store|file-[^/]+|journal|lock|pg-[^/]+)[.]ts$' },
    },
    {
      name: 'no-circular',
      comment: 'Modules form a tree: a cycle makes load order and ownership unclear.',
      severity: 'error',
      from: {},
      to: { circular: true, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
