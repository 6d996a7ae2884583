"""Writers for output/r5 (bundles, files, NDJSON, NPM package, source map)."""
