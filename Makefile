# Two commands do everything: `make run` and `make test`. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export FLASK_APP := app:create_app

.PHONY: run test chromium redis-server lint clean screenshots emoji-font video

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## run: install, migrate, load the demo (and a TikTok LIVE replay) and serve on 127.0.0.1:$(PORT) with gunicorn + gevent
run: $(VENV)/.runtime video
	STREAMSHOP_ENV=$${STREAMSHOP_ENV:-development} $(BIN)/flask db upgrade
	STREAMSHOP_ENV=$${STREAMSHOP_ENV:-development} $(BIN)/flask seed-demo
	@# A generated TikTok LIVE, replayed into the demo streamer's studio while the server runs.
	@test -f "$${INSTANCE_PATH:-instance}/demo-live.jsonl" || STREAMSHOP_ENV=$${STREAMSHOP_ENV:-development} \
	  $(BIN)/flask ingest demo-file "$${INSTANCE_PATH:-instance}/demo-live.jsonl"
	@# The demo show's camera: a test pattern encoded once, published in a loop through the ingest.
	STREAMSHOP_ENV=$${STREAMSHOP_ENV:-development} $(BIN)/flask demo-video
	STREAMSHOP_ENV=$${STREAMSHOP_ENV:-development} PORT=$(PORT) INGEST_ENABLED=$${INGEST_ENABLED:-1} \
	  DEMO_REPLAY=$${DEMO_REPLAY:-$${INSTANCE_PATH:-instance}/demo-live.jsonl} \
	  DEMO_VIDEO=$${DEMO_VIDEO:-$${INSTANCE_PATH:-instance}/demo-video.txt} \
	  $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

## test: install the dev requirements (and Debian's chromium, redis-server, nginx-rtmp and ffmpeg when possible) and run the suite
test: $(VENV)/.dev chromium redis-server video
	$(BIN)/pytest

## chromium: the browser for the Playwright tests, from Debian, when missing and installable
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || echo "chromium could not be installed"; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) || echo "chromium could not be installed"; \
	  else \
	    echo "chromium is missing and cannot be installed here: browser tests will be skipped"; \
	  fi; \
	fi

## screenshots: docs/screenshots/*.png (show page on a phone, seller's console, studio overview), made by a script
screenshots: $(VENV)/.dev chromium emoji-font
	$(BIN)/python scripts/screenshots.py

## emoji-font: Debian's colour emoji font, so the demo chat's emoji are drawn in screenshots (not as empty boxes)
emoji-font:
	@if ! fc-list 2>/dev/null | grep -qi "emoji"; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji) || echo "fonts-noto-color-emoji could not be installed"; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji) || echo "fonts-noto-color-emoji could not be installed"; \
	  else \
	    echo "no emoji font and none can be installed here: the screenshots show emoji as boxes"; \
	  fi; \
	fi

## redis-server: the binary tests/test_faults.py starts (and kills) on a port of its own, from Debian
redis-server:
	@if ! command -v redis-server >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) || echo "redis-server could not be installed"; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) || echo "redis-server could not be installed"; \
	  else \
	    echo "redis-server is missing and cannot be installed here: the Redis outage tests will be skipped"; \
	  fi; \
	fi

## video: the self-hosted media server (nginx with the RTMP module) and ffmpeg, from Debian, when
## missing and installable; without them the app serves with video off
VIDEO_PACKAGES := nginx libnginx-mod-rtmp ffmpeg
video:
	@if [ ! -x /usr/sbin/nginx ] || [ ! -e /usr/lib/nginx/modules/ngx_rtmp_module.so ] || ! command -v ffmpeg >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(VIDEO_PACKAGES)) || echo "$(VIDEO_PACKAGES) could not be installed: video is off"; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(VIDEO_PACKAGES)) || echo "$(VIDEO_PACKAGES) could not be installed: video is off"; \
	  else \
	    echo "$(VIDEO_PACKAGES) missing and cannot be installed here: video is off, video tests are skipped"; \
	  fi; \
	fi

lint: $(VENV)/.dev
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache
