/**
 * What the supervisor runs: the gateway, then one host process per entry of the services list
 * (stack/gateway/services.ts, or a list a test names). Reading the list loads no service's code.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StackConfig } from '../config.ts';
import type { ServiceList } from '../gateway/server.ts';
import type { SupervisorPlan } from './main.ts';
import type { ChildSpec } from './supervisor.ts';

export const defaultServicesModule = (config: StackConfig) =>
  join(config.projectRoot, 'stack', 'gateway', 'services.ts');

/** Service names become file names and variable names: letters, digits, `-` and `_`. */
const validName = /^[a-z][a-z0-9_-]*$/;

export async function supervisorPlan(
  config: StackConfig,
  servicesModule = defaultServicesModule(config),
): Promise<SupervisorPlan> {
  const module = resolve(servicesModule);
  const { services } = (await import(pathToFileURL(module).href)) as { services: ServiceList };
  const gatewayEntry = join(config.projectRoot, 'stack', 'gateway', 'main.ts');
  const gateway: ChildSpec = { name: 'gateway', kind: 'gateway', entry: gatewayEntry, args: [], loader: 'transform' };
  const hosts = Object.keys(services)
    .filter((name) => !config.disabledServices.includes(name))
    .map((name): ChildSpec => {
      if (!validName.test(name) || name === 'gateway' || name === 'supervisor')
        throw new Error(`${module}: a service cannot be called ${JSON.stringify(name)}`);
      return {
        name,
        kind: 'service',
        entry: join(config.projectRoot, 'stack', 'supervisor', 'host.ts'),
        args: [module, name],
        loader: 'tsx',
      };
    });
  return { projectRoot: config.projectRoot, stackDir: config.stackDir, children: [gateway, ...hosts] };
}
