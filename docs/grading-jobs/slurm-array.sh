#!/usr/bin/env bash
# Grade a class as a Slurm array job: one task per shard, then one dependent job that merges them.
#
#   sbatch --export=ALL,SUBMISSIONS=/shared/course/submissions,OUT=/shared/course/grading docs/grading-jobs/slurm-array.sh
#
# Every node needs the course environment (.venv) and bubblewrap (apt-get install bubblewrap). SUBMISSIONS and OUT
# must be on a file system all nodes see. A task that is pre-empted or requeued resumes from its shard's journal.
#SBATCH --job-name=grade
#SBATCH --array=1-8
#SBATCH --cpus-per-task=4
#SBATCH --mem=12G
#SBATCH --time=02:00:00
#SBATCH --requeue
#SBATCH --output=grade-%A_%a.log
set -euo pipefail
: "${SUBMISSIONS:?set SUBMISSIONS to the folder of submitted notebooks}"
: "${OUT:?set OUT to the folder for the shard and merged gradebooks}"
COURSE=${COURSE:-$SLURM_SUBMIT_DIR}
SHARDS=${SLURM_ARRAY_TASK_COUNT:-8}
cd "$COURSE"
# --jobs 2 with --memory-mb 4096 stays below --mem=12G with room for the grader itself.
.venv/bin/python -m course_utils grade "$SUBMISSIONS" --out "$OUT/shard-$SLURM_ARRAY_TASK_ID" \
  --shard "$SLURM_ARRAY_TASK_ID/$SHARDS" --jobs 2 --memory-mb 4096 --require-sandbox
# The last task to start queues the merge, to run once every task of the array has succeeded.
if [ "$SLURM_ARRAY_TASK_ID" = "$SLURM_ARRAY_TASK_MAX" ]; then
  sbatch --dependency="afterok:$SLURM_ARRAY_JOB_ID" --job-name=grade-merge --time=00:10:00 --mem=2G \
    --output=grade-merge-%j.log --chdir="$COURSE" --wrap \
    ".venv/bin/python -m course_utils merge $(for k in $(seq 1 "$SHARDS"); do printf '%s ' "$OUT/shard-$k"; done) --out $OUT/merged"
fi
