// Runs when `npm ci` could not compile Pulsegate's native addons (binding.gyp): installation goes on,
// and their JavaScript twins run instead, with the same results and less speed.
process.stderr.write(
  'pulsegate: the native addons were not built (node-gyp needs python3, make and a C compiler);\n' +
    '  audit verification and record encryption use their JavaScript code: the same results, slower.\n',
);
