import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { nexudusResolvers } from './nexudus.js';
import { nurevaResolvers } from './nureva.js';
import { nuveqResolvers } from './nuveq.js';
import { platformResolvers } from './platform.js';
import { DateTime } from './scalars.js';
import { sessionResolvers } from './session.js';

const slices: Resolvers[] = [sessionResolvers, nuveqResolvers, nexudusResolvers, platformResolvers, nurevaResolvers];

/** Every slice's resolvers; Query and Mutation fields merged, each type owned by one slice. */
export const resolvers: Resolvers = {
  DateTime,
  ...Object.assign({}, ...slices),
  Query: Object.assign({}, ...slices.map((s) => s.Query)),
  Mutation: Object.assign({}, ...slices.map((s) => s.Mutation)),
};
