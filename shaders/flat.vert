#version 330 core
// Debug drawing (wireframe, points): u_matrix takes positions straight to clip space.
// u_depth_bias pulls lines slightly towards the camera so they win against the occluder.
in vec3 in_position;
uniform mat4 u_matrix;
uniform float u_point_size;
uniform float u_depth_bias;

void main() {
    gl_Position = u_matrix * vec4(in_position, 1.0);
    gl_Position.z -= u_depth_bias * gl_Position.w;
    gl_PointSize = u_point_size;
}
