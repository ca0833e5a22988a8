/** Shard 2 of the random ed25519 agreement cases (see `ed25519-agreement.ts`). */
import t from 'tap';
import { agreementShardTest } from './ed25519-agreement.js';

agreementShardTest(t, 1);
