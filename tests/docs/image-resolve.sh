# shellcheck shell=bash
# shellcheck source=tests/docs/help-image-resolve.sh
source "$REPO/tests/docs/help-image-resolve.sh"
