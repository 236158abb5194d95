/**
 * The services of the local stack. The supervisor runs each in a process of its own and the gateway
 * forwards its prefix to it. One line per service: its name (in `stack:status`, /health and its log
 * file) and how to load its `ServiceFactory`. Loading is lazy, so each process loads the code of the
 * one service it runs and nothing else.
 */
import type { ServiceList } from './server.ts';

export const services: ServiceList = {
  realtime: () => import('../realtime/service.ts').then((module) => module.realtimeService),
  functions: () => import('../functions/host.ts').then((module) => module.functionsService),
  rest: () => import('../rest/service.ts').then((module) => module.restService),
  auth: () => import('../auth/service.ts').then((module) => module.authService),
};
