"""The Chromium switches every browser of the system runs with (the web worker's own Chromium in local mode,
the browser server's in the chart): headless, no GPU, no background traffic of its own, no QUIC, WebRTC only
through the proxy, no /dev/shm (a small tmpfs in containers). The sandbox switch is not among them: whoever
launches decides."""

CHROMIUM_FLAGS = ["--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic", "--disable-dev-shm-usage",
                  "--force-webrtc-ip-handling-policy=disable_non_proxied_udp"]
