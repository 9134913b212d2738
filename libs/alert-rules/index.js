'use strict';
// Runtime entry of the workspace package: the compiled sources (see .ci/build.js).
module.exports = require('../../dist/libs/alert-rules/src/index.js');
