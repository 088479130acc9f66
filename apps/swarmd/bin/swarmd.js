#!/usr/bin/env node
// Exists before the build, so that package managers link the swarmd command at install time in a workspace.
import module from 'node:module'

// Node 22.1 and later keep the compiled code of swarmd and its services between starts, in the
// directory NODE_COMPILE_CACHE names (else the system's temporary directory); NODE_DISABLE_COMPILE_CACHE=1 turns it off.
module.enableCompileCache?.()
await import('../dist/cli.js')
