/**
 * The layers of cheesechain point one way (docs/architecture in README, design
 * "Layers point one way"):
 *
 *   src/core  <-  src/store, src/transport, src/mining, src/p2p, src/workers
 *             <-  src/tracker  <-  src/config  <-  src/actors  <-  src/node
 *             <-  src/api, src/nats, src/senz, src/dashboard  <-  src/cli
 *
 * An import never runs up this list. `npm test` runs this check before the
 * suite (`npm run lint:deps`), so an upward import fails the build.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'src/core is consensus without IO: it imports nothing else of src.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'base-layers-only-core',
      comment: 'src/store, src/mining, src/p2p and src/workers build on src/core only.',
      severity: 'error',
      from: { path: '^src/(store|mining|p2p|workers)/' },
      to: { path: '^src/', pathNot: ['^src/core/', '^src/$1/'] },
    },
    {
      name: 'transport-below-actors',
      comment: 'src/transport handles bytes: it builds on src/core and the p2p library only.',
      severity: 'error',
      from: { path: '^src/transport/' },
      to: { path: '^src/', pathNot: '^src/(core|p2p|transport)/' },
    },
    {
      name: 'tracker-below-actors',
      comment: 'The tracker speaks the wire; it never reaches into actors, the node or adapters.',
      severity: 'error',
      from: { path: '^src/tracker/' },
      to: { path: '^src/(actors|node|api|nats|senz|dashboard|cli)/' },
    },
    {
      name: 'config-below-actors',
      comment: 'The config schema takes its defaults from the protocol constants (src/core, src/transport, src/tracker), never from actors or above.',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/(store|mining|actors|node|api|nats|senz|dashboard|cli)/' },
    },
    {
      name: 'actors-below-node',
      comment: 'Actors never import the assembly that starts them, nor the adapters or the command line.',
      severity: 'error',
      from: { path: '^src/actors/' },
      to: { path: '^src/(node|api|nats|senz|dashboard|cli)/' },
    },
    {
      name: 'node-imports-no-adapter',
      comment: 'Optional adapters (NATS, HTTP API, Senz, dashboard) are handed to the node by src/cli, never imported by it.',
      severity: 'error',
      from: { path: '^src/node/' },
      to: { path: '^src/(api|nats|senz|dashboard|cli)/' },
    },
    {
      name: 'adapters-below-cli',
      comment: 'Only the command line assembles adapters; none imports it.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'src-never-imports-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|test|bench)/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
