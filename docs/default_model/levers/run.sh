#!/bin/bash
# Issue 22's levers at CPU scale: three short fine-tunes of the shipped default model, equal in length
# and schedule, differing in one lever each, scored on the held-out photographs and drawings (never a
# benchmark set). Run from the repository root after the data commands of docs/training.md ("The
# default model in one run") and:
#   python -m sr.data.photos datasets/photos_extra --set extra
#   python -m sr.data.photos datasets/textures --set textures
#   python tools/convert_scales.py deepen default datasets/default_20_blocks.safetensors --num-block 20
# Arms: control (12 blocks, the recipe's data), deeper (20 blocks, new blocks starting as the
# identity), more_data (12 blocks; the recipe's data plus the extra photographs and the textures).
set -euo pipefail
COMMON=(
  --set train.total_iter=400 --set train.warmup_iter=0 --set train.optim_g.lr=1e-4
  --set "train.scheduler.periods=[400]" --set "train.scheduler.restart_weights=[1]"
  --set train.ema_decay=0 --set datasets.train.batch_size_per_gpu=16
  --set datasets.train.num_worker_per_gpu=1 --set val.val_freq=400
  --set logger.save_checkpoint_freq=400 --set logger.print_freq=100
)
W=sr/inference/weights/default_x234.safetensors
sr-train -opt options/default_x234.yml --set name=lever_control "${COMMON[@]}" \
  --set path.pretrain_network_g=$W --set path.param_key_g=params
sr-train -opt options/default_x234.yml --set name=lever_deeper "${COMMON[@]}" \
  --set path.pretrain_network_g=datasets/default_20_blocks.safetensors --set path.param_key_g=params \
  --set network_g.num_block=20
P=options/lists/photos_train.txt
sr-train -opt options/default_x234.yml --set name=lever_more_data "${COMMON[@]}" \
  --set path.pretrain_network_g=$W --set path.param_key_g=params \
  --set "datasets.train.sources=[
    {name: half, dataroot_gt: datasets/photos, meta_info_file: $P, resolution: 0.5, share: 0.2},
    {name: third, dataroot_gt: datasets/photos, meta_info_file: $P, resolution: 0.3333333333333333, share: 0.2},
    {name: quarter, dataroot_gt: datasets/photos, meta_info_file: $P, resolution: 0.25, share: 0.2},
    {name: textures, dataroot_gt: datasets/quickstart, meta_info_file: options/lists/skimage_textures.txt, resolution: 1, share: 0.06},
    {name: synthetic, dataroot_gt: datasets/synthetic_500, resolution: 1, share: 0.08},
    {name: extra_half, dataroot_gt: datasets/photos_extra/lomiri, resolution: 0.5, share: 0.08},
    {name: extra_quarter, dataroot_gt: datasets/photos_extra/lomiri, resolution: 0.25, share: 0.08},
    {name: mypaint, dataroot_gt: datasets/textures/mypaint, resolution: 1, share: 0.1}]"
