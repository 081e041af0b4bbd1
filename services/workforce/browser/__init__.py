"""The browser server (`workforce-service browser`): the web worker's Chromium in a boundary of its own."""
