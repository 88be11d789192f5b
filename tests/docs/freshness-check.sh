# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
# the upstream of `make demo` step 11: pinned at ci-v0.1.0 on 2026-10-01, then a docs
# commit and two on imported paths; ./upstream is a clone whose origin names the real one
history_repo src <<'HISTORY'
2026-10-01T00:00:00Z skills/git/SKILL.md release
tag ci-v0.1.0
2026-10-05T00:00:00Z docs/README.md docs: typo
2026-10-10T00:00:00Z skills/git/SKILL.md skills/git: safer rebase advice
2026-10-20T00:00:00Z CLAUDE.md CLAUDE.md: new review rule
HISTORY
git clone -q src upstream
git -C upstream remote set-url origin https://github.com/glitchwerks/claude-private.git
cat > ci-manifest.yaml <<'YAML'
shared:
  imports_from_private:
    skills: [git]
YAML
