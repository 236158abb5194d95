/**
 * What the supervisor runs: the gateway, then one host process per entry of the services list
 * (stack/gateway/services.ts, or a list a test names). Resolved by the command that starts the
 * supervisor, so the supervisor itself never loads a service's code.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StackConfig } from '../config.ts';
import type { ServiceFactory } from '../gateway/server.ts';
import type { SupervisorPlan } from './main.ts';
import type { ChildSpec } from './supervisor.ts';

export const defaultServicesModule = (config: StackConfig) => join(config.projectRoot, 'stack', 'gateway', 'services.ts');

/** A service's name before it answers: its factory's name without `Service` (`realtimeService` → realtime). */
export function serviceLabel(factory: ServiceFactory, index: number): string {
  const label = factory.name.replace(/Service$/, '');
  return /^[A-Za-z][A-Za-z0-9_-]*$/.test(label) ? label : `service-${index}`;
}

export async function supervisorPlan(config: StackConfig, servicesModule = defaultServicesModule(config)): Promise<SupervisorPlan> {
  const module = resolve(servicesModule);
  const { serviceFactories } = (await import(pathToFileURL(module).href)) as { serviceFactories: ServiceFactory[] };
  const gateway: ChildSpec = { name: 'gateway', kind: 'gateway', entry: join(config.projectRoot, 'stack', 'gateway', 'main.ts'), args: [], loader: 'strip' };
  const services = serviceFactories.map((factory, index): ChildSpec => ({
    name: serviceLabel(factory, index),
    kind: 'service',
    entry: join(config.projectRoot, 'stack', 'supervisor', 'host.ts'),
    args: [module, String(index)],
    loader: 'tsx',
  }));
  const names = services.map((service) => service.name);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined) throw new Error(`two services in ${module} are both called ${twice}`);
  return { projectRoot: config.projectRoot, stackDir: config.stackDir, children: [gateway, ...services] };
}
