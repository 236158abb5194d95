/**
 * The benchmark page's script (bundled by bench/client/chromium.ts): the scenario over the page's
 * own IndexedDB, started by the runner through `globalThis.runClientBench`.
 */
import type { IDBFactory } from '../../client/indexeddb-storage.ts';
import { runScenario, type ScenarioOptions } from './scenario.ts';

(globalThis as { runClientBench?: unknown }).runClientBench = (options: Omit<ScenarioOptions, 'indexedDB'>) =>
  runScenario({
    ...options,
    indexedDB: (globalThis as unknown as { indexedDB: IDBFactory }).indexedDB,
    log: (line) => console.log(line),
  });
