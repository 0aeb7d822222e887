/**
 * Writes schema.graphql from the Pothos schema (`npm run schema:print`). A test fails when the
 * committed file differs from what this prints.
 */
import { writeFileSync } from 'node:fs';
import { printSortedSchema } from '../src/graphql/schema.js';

const target = new URL('../schema.graphql', import.meta.url);
writeFileSync(target, printSortedSchema());
console.log(`wrote ${target.pathname}`);
