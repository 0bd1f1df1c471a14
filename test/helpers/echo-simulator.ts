import { Simulator, type SimHandler, type SimulatorOptions } from '../../simulators/server.js';

/** A bare simulator whose routes a test defines, for exercising the shared HTTP client. */
export class EchoSimulator extends Simulator {
  constructor(options: SimulatorOptions = {}) {
    super('echo', options);
  }
  on(method: string, path: string, handler: SimHandler): this {
    this.route(method, path, handler);
    return this;
  }
}
