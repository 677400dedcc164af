#!/usr/bin/env node
// Thin launcher so `npx hearth` works after `npm ci` (which builds dist/ in `prepare`).
import '../dist/src/cli/main.js';
