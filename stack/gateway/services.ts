/**
 * The services mounted on the local API gateway, in the order their prefixes are matched.
 * Each entry is a factory in its own module; add one line per service.
 */
import { functionsService } from '../functions/host.ts';
import { realtimeService } from '../realtime/service.ts';
import type { ServiceFactory } from './server.ts';

export const serviceFactories: ServiceFactory[] = [realtimeService, functionsService];
