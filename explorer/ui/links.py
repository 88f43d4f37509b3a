"""Where each page lives, so links between pages are written once."""

PAGE_FILES = {
    "gradients": "app_pages/1_Gradients.py",
    "several-variables": "app_pages/2_Several_variables.py",
    "accumulation": "app_pages/3_Accumulation.py",
    "by-hand": "app_pages/4_Checking_by_hand.py",
    "exercises": "app_pages/5_Exercises.py",
    "playground": "app_pages/6_Playground.py",
    "leaf-twice": "app_pages/7_Leaf_used_twice.py",
    "vector-jacobian": "app_pages/8_Non_scalar_outputs.py",
    "stop-gradient": "app_pages/9_Stopping_the_gradient.py",
    "non-leaf-grad": "app_pages/10_Gradients_in_the_middle.py",
    "in-place": "app_pages/11_In_place_changes.py",
    "higher-order": "app_pages/12_Higher_order_gradients.py",
    "micro-batches": "app_pages/13_Micro_batches.py",
    "gradient-descent": "app_pages/14_Gradient_descent.py",
    "custom-function": "app_pages/15_Custom_functions.py",
    "tensors": "app_pages/16_Tensors_and_shapes.py",
}
