#!/usr/bin/env node
// Entry point: loads the TypeScript CLI through tsx so the package runs without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
