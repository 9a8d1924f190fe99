#version 330 core
// Camera-space normals as colours: x (right) red, y (up) green, z (towards the camera) blue,
// each mapped from -1..1 to 0..1 (a face looking at the camera is mostly blue-violet).
in vec3 v_normal;
uniform float u_opacity;
out vec4 f_color;

void main() {
    f_color = vec4(normalize(v_normal) * 0.5 + 0.5, u_opacity);
}
