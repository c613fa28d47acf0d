// node-forge's own files, each exporting one namespace of the library:
// `import forge from 'node-forge'` loads all 42 of them (ciphers, TLS, PKCS#12).
declare module 'node-forge/lib/pem.js' {
  import type forge from 'node-forge';
  const pem: typeof forge.pem;
  export default pem;
}

declare module 'node-forge/lib/asn1.js' {
  import type forge from 'node-forge';
  const asn1: typeof forge.asn1;
  export default asn1;
}
