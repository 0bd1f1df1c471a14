import { printSubgraphSchema } from '@apollo/subgraph';
import { buildSchema } from './schema.js';

/**
 * `npm run subgraph:print`: this subgraph's SDL with its federation directives (@link, @key), for
 * composition with other subgraphs (rover supergraph compose, Apollo GraphOS, @apollo/composition).
 */
process.stdout.write(`${printSubgraphSchema(buildSchema())}\n`);
