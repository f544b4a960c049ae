#!/bin/sh
# Container entrypoint: web | worker | migrate | any other command.
set -eu

case "${1:-web}" in
    web)
        yishi db upgrade
        exec gunicorn \
            --bind 0.0.0.0:8000 \
            --workers 3 \
            --forwarded-allow-ips='*' \
            --access-logfile - \
            'yishi:create_app()'
        ;;
    worker)
        exec yishi worker
        ;;
    migrate)
        exec yishi db upgrade
        ;;
    *)
        exec "$@"
        ;;
esac
