// The desktop's SIP stack: JsSIP as one script (window.CCSip), bundled by
// esbuild (npm run build) from the committed package-lock.json.
module.exports = require('jssip');
