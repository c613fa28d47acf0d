/** The Node.js major node-ca runs on: package.json `engines` (`>=24 <25`), the image, the tests. */
export const supportedNodeMajor = 24;

/**
 * The one line the bin prints when this Node cannot run node-ca, or
 * undefined when it can. Newer majors are refused as well as older ones:
 * `engines` says `<25` and nothing is tested on them. No imports here: the
 * bin loads this module on any Node, before the CLI.
 */
export function unsupportedNodeMessage(version: string): string | undefined {
  if (Number.parseInt(version, 10) === supportedNodeMajor) return undefined;
  return (
    `node-ca: needs Node.js ${supportedNodeMajor} (this is v${version}); run it with the ` +
    "project's Node: npx node-ca …, or node_modules/.bin/node dist/cli/main.js …"
  );
}
