"""imcsim_torch: PyTorch side of imcsim (CPU only).

Fine-tunes compressed networks by knowledge distillation from the uncompressed network
(REFERENCE §13: fine-tuning is knowledge distillation from the uncompressed network on the
shared training images with the compressed structure held fixed), reading and writing the
same ONNX graphs the C++ tools use.

  onnx_torch  ONNX graph -> trainable torch.nn.Module, and trained values -> the same graph
  data        dataset.yaml folders, preprocessing, training augmentation
  finetune    the distillation loop behind scripts/finetune
"""
