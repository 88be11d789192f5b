# shellcheck shell=bash
# shellcheck source=tests/docs/lib.sh
source "$REPO/tests/docs/lib.sh"
# "private": a clone of a repository pinned at ci-v0.1.0, with commits since on imported paths
history_repo src <<'HISTORY'
2026-10-01T00:00:00Z skills/git/SKILL.md release
tag ci-v0.1.0
2026-10-05T00:00:00Z agents/review.md agents: tighter review
2026-10-20T00:00:00Z CLAUDE.md CLAUDE.md: new review rule
HISTORY
git clone -q src private
cat > ci-manifest.yaml <<'YAML'
shared:
  imports_from_private:
    skills: [git]
YAML
