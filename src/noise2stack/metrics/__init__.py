"""Image-quality metrics as the papers compute them (PSNR, SSIM, NRMSE, CARE normalisation)."""

from noise2stack.metrics.quality import care_normalize, evaluate_stack, plane_metrics

__all__ = ["care_normalize", "evaluate_stack", "plane_metrics"]
