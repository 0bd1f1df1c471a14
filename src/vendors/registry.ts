import { nexudus } from '../../datasources/nexudus/index.js';
import { nureva } from '../../datasources/nureva/index.js';
import { nuveq } from '../../datasources/nuveq/index.js';
import { platform } from '../../datasources/platform/index.js';
import type { VendorModule } from './module.js';

/**
 * The vendors this gateway knows, in the order their schema and demo logins are shown. Adding a
 * vendor is its folder under datasources/ and one line here (README, "Adding a vendor").
 */
export const VENDORS: readonly VendorModule[] = [nuveq, nureva, nexudus, platform];
