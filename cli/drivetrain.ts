#!/usr/bin/env -S npx tsx
import { processIo } from './io';
import { main } from './main';

// exitCode rather than exit(): lets stdout drain when piped.
process.exitCode = await main(process.argv.slice(2), processIo());
