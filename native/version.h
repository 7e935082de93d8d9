/* The package version; test/api.test.js checks it matches package.json. */
#ifndef VERSION_H
#define VERSION_H
#define OAT_VERSION "0.1.0"
#endif
