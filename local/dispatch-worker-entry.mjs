// Worker threads start without the TypeScript loader of their parent (tsx or vitest's):
// register tsx here, then load the worker itself.
import { register } from 'tsx/esm/api';

register();
await import('./dispatch-worker.ts');
