#version 330 core
// Straight-alpha RGBA image; the renderer's alpha blend puts it over the frame.
in vec2 v_uv;
uniform sampler2D u_image;
out vec4 f_color;

void main() {
    f_color = texture(u_image, v_uv);
}
