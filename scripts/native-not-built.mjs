// Runs when `npm ci` could not compile the audit verifier's native row checker (binding.gyp):
// installation goes on, and verification uses its JavaScript loop, which is slower.
process.stderr.write(
  'pulsegate: the native audit row checker was not built (node-gyp needs python3, make and a C compiler);\n' +
    '  `pulsegate audit verify` will use its JavaScript loop: the same checks, about half the speed.\n',
);
