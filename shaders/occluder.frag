#version 330 core
// Depth only: the colour mask is off while this runs; the output exists to satisfy the linker.
out vec4 f_color;

void main() {
    f_color = vec4(0.0);
}
