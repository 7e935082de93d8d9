# The least node-gyp needs from a Node.js source tree to build a Node-API addon. With the
# headers from the node-api-headers package beside it (native/nodedir/prepare.js copies them
# in), `node-gyp --nodedir=native/nodedir` builds offline: nothing is downloaded.
{
  'variables': {
    'node_shared%': 'false',
    'node_use_openssl%': 'false',
    'node_module_version%': '',
    'clang%': 0,
    'openssl_fips%': '',
    'llvm_version%': '0.0',
  },
  'target_defaults': {
    'default_configuration': 'Release',
    'configurations': { 'Release': {}, 'Debug': {} },
  },
}
