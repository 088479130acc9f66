#!/usr/bin/env node
// Exists before the build, so that package managers link the swarmd command at install time in a workspace.
import '../dist/cli.js'
