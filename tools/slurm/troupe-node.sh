#!/usr/bin/env bash
# One troupe worker on this node of a Slurm job (started by troupe.sbatch
# through srun, one task per node): offers the CPUs, GPUs and memory Slurm
# allocated here, binds the node's NodeAddr, writes its actors' logs to
# DIR/NODENAME, and stops them when srun passes it SIGTERM (scancel, the
# job's end).
# Usage: troupe-node.sh TROUPE_BINARY SCHEDULER_ADDRESS DIR
set -euo pipefail
troupe=$1 cluster=$2 dir=$3
node=${SLURMD_NODENAME:-$(hostname -s)}
addr=$(scontrol show node "$node" | grep -o 'NodeAddr=[^ ]*' | cut -d= -f2)
cpus=${SLURM_CPUS_ON_NODE:-$(nproc)}
# GPUs: Slurm's GRES sets CUDA_VISIBLE_DEVICES for the task (the worker maps
# its actors' device indices through it); else SLURM_GPUS_ON_NODE; else none.
gpus=0
if [[ -n ${CUDA_VISIBLE_DEVICES:-} && ${CUDA_VISIBLE_DEVICES} != NoDevFiles ]]; then
  IFS=, read -ra devices <<<"$CUDA_VISIBLE_DEVICES"
  gpus=${#devices[@]}
elif [[ -n ${SLURM_GPUS_ON_NODE:-} ]]; then
  gpus=$SLURM_GPUS_ON_NODE
fi
memory=()
[[ -n ${SLURM_MEM_PER_NODE:-} ]] && memory=(--memory-mb "$SLURM_MEM_PER_NODE")
echo "troupe-node: $node ($addr): $cpus CPU(s), $gpus GPU(s) (CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-})"
# exec: srun's SIGTERM goes straight to the worker, which stops its actors and leaves.
exec "$troupe" worker --scheduler "$cluster" --host "$addr" --cpus "$cpus" --gpus "$gpus" "${memory[@]}" \
  --log-dir "$dir/$node"
